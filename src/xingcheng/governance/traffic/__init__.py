"""智慧交通: road network, detectors, traffic state (GB/T 33171-2016), 15-minute signal retiming, SUMO evaluation."""
