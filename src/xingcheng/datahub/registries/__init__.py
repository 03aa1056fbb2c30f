"""Base registries (四大基础库): population, legal entities; e-licences and geography build on them."""
