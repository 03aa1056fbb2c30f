"""智慧政务 domain: government services for citizens and enterprises (一网通办, Q&A, policy, office)."""
