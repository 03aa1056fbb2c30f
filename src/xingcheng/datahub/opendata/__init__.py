"""Open data (数据开放): L1 catalogue datasets published with downloads, a CKAN Action API and DCAT-AP."""
