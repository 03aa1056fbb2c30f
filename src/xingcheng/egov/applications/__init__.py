"""Online applications (一网通办 申办): submit, 补正, withdraw, timeline, results as e-licences, ratings, KPIs."""
