"""业务中台: the BPMN/DMN workflow engine (SpiffWorkflow), department inboxes and reusable service tasks."""
