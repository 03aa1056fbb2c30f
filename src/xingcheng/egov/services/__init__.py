"""一网通办 service catalogue: the city's service items, their guides and implementation lists."""
