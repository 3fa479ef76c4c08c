"""Frontier Lab's federated learning on Flower: thin adapters around ``engine.federated`` (the Flower
quickstart's ``task.py`` role is played by the engine itself)."""
