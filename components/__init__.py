"""ComponentResources of lfh-infra: cluster (one per target), platform (core add-ons), client."""
