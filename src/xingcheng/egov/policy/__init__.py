"""政策精准推送 / 免申即享: 惠企政策 as rule sets over enterprise attributes, explainable matching, pushes."""
