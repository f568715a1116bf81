"""Governance: the model card of a registered version.

The card joins what the registry proves (metrics and the gates they meet,
lineage, the latest drift outcome, the promotion history) with what only
people can say (intended use, limitations), which lives in the user-owned
``model-card.yaml`` at the project root.
"""
