"""Model registry on MLflow: semantic versions, stages via aliases, gates, provenance."""
