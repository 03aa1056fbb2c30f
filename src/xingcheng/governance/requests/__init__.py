"""民生诉求一键达: citizen requests from the web, the API and Open311 GeoReport v2, routed, timed and rated."""
