"""A small, dated price table for the cost preview (`python -m lfh cost`, the plan's cost section).

Approximate public on-demand list prices in USD (Linux, pay-as-you-go, no discounts, no free tiers
except where noted), for the default regions of the example stacks: AWS us-east-1, Azure eastus2,
GCP us-central1. Compiled from the clouds' public price pages as of ``PRICES_DATE``; they are not
fetched live. Use them to compare options and catch surprises, not as a quote: check the cloud's
pricing calculator before budgeting. Data transfer, requests/operations and support plans are left
out on purpose (they depend on traffic, which a plan cannot know).

To update: change the numbers and ``PRICES_DATE`` together (the date is printed with every estimate).
"""
from __future__ import annotations

PRICES_DATE = "2026-01-15"
PRICES_SOURCE = (
    "public on-demand list prices (AWS us-east-1, Azure eastus2, GCP us-central1), "
    f"compiled {PRICES_DATE}; approximate, not fetched live"
)
CURRENCY = "USD"
#: Hours in an average month (8760 / 12), as the clouds' calculators use.
HOURS_PER_MONTH = 730

#: Node shapes: vCPU and memory (GiB) of each instance type / VM size / machine type we may meet.
#: A type missing here is reported as "unknown shape" (neither capacity nor cost can be computed).
SHAPES: dict[str, dict[str, tuple[float, float]]] = {
    "aws": {
        "t3.large": (2, 8), "t3.xlarge": (4, 16), "t3.2xlarge": (8, 32),
        "m5.large": (2, 8), "m5.xlarge": (4, 16), "m5.2xlarge": (8, 32), "m5.4xlarge": (16, 64),
        "m6i.large": (2, 8), "m6i.xlarge": (4, 16), "m6i.2xlarge": (8, 32), "m6i.4xlarge": (16, 64),
        "m7i.large": (2, 8), "m7i.xlarge": (4, 16), "m7i.2xlarge": (8, 32), "m7i.4xlarge": (16, 64),
        "m6g.large": (2, 8), "m6g.xlarge": (4, 16), "m6g.2xlarge": (8, 32),
        "m7g.large": (2, 8), "m7g.xlarge": (4, 16), "m7g.2xlarge": (8, 32),
        "c6i.xlarge": (4, 8), "c6i.2xlarge": (8, 16),
        "r5.large": (2, 16), "r5.xlarge": (4, 32), "r5.2xlarge": (8, 64),
        "r6i.large": (2, 16), "r6i.xlarge": (4, 32), "r6i.2xlarge": (8, 64), "r6i.4xlarge": (16, 128),
        "r7i.large": (2, 16), "r7i.xlarge": (4, 32), "r7i.2xlarge": (8, 64),
    },
    "azure": {
        "Standard_D2s_v3": (2, 8), "Standard_D4s_v3": (4, 16), "Standard_D8s_v3": (8, 32),
        "Standard_D2s_v5": (2, 8), "Standard_D4s_v5": (4, 16), "Standard_D8s_v5": (8, 32), "Standard_D16s_v5": (16, 64),
        "Standard_D2ds_v5": (2, 8), "Standard_D4ds_v5": (4, 16), "Standard_D8ds_v5": (8, 32), "Standard_D16ds_v5": (16, 64),
        "Standard_D2as_v5": (2, 8), "Standard_D4as_v5": (4, 16), "Standard_D8as_v5": (8, 32),
        "Standard_E2s_v5": (2, 16), "Standard_E4s_v5": (4, 32), "Standard_E8s_v5": (8, 64), "Standard_E16s_v5": (16, 128),
        "Standard_E4ds_v5": (4, 32), "Standard_E8ds_v5": (8, 64),
        "Standard_B2ms": (2, 8), "Standard_B4ms": (4, 16),
    },
    "gcp": {
        "e2-standard-2": (2, 8), "e2-standard-4": (4, 16), "e2-standard-8": (8, 32), "e2-standard-16": (16, 64),
        "n2-standard-2": (2, 8), "n2-standard-4": (4, 16), "n2-standard-8": (8, 32), "n2-standard-16": (16, 64),
        "n2d-standard-2": (2, 8), "n2d-standard-4": (4, 16), "n2d-standard-8": (8, 32),
        "n2-highmem-2": (2, 16), "n2-highmem-4": (4, 32), "n2-highmem-8": (8, 64),
        "e2-highmem-4": (4, 32), "e2-highmem-8": (8, 64),
        "c3-standard-4": (4, 16), "c3-standard-8": (8, 32),
    },
}

#: On-demand price per node-hour, same keys as SHAPES.
NODE_HOURLY: dict[str, dict[str, float]] = {
    "aws": {
        "t3.large": 0.0832, "t3.xlarge": 0.1664, "t3.2xlarge": 0.3328,
        "m5.large": 0.096, "m5.xlarge": 0.192, "m5.2xlarge": 0.384, "m5.4xlarge": 0.768,
        "m6i.large": 0.096, "m6i.xlarge": 0.192, "m6i.2xlarge": 0.384, "m6i.4xlarge": 0.768,
        "m7i.large": 0.1008, "m7i.xlarge": 0.2016, "m7i.2xlarge": 0.4032, "m7i.4xlarge": 0.8064,
        "m6g.large": 0.077, "m6g.xlarge": 0.154, "m6g.2xlarge": 0.308,
        "m7g.large": 0.0816, "m7g.xlarge": 0.1632, "m7g.2xlarge": 0.3264,
        "c6i.xlarge": 0.17, "c6i.2xlarge": 0.34,
        "r5.large": 0.126, "r5.xlarge": 0.252, "r5.2xlarge": 0.504,
        "r6i.large": 0.126, "r6i.xlarge": 0.252, "r6i.2xlarge": 0.504, "r6i.4xlarge": 1.008,
        "r7i.large": 0.1323, "r7i.xlarge": 0.2646, "r7i.2xlarge": 0.5292,
    },
    "azure": {
        "Standard_D2s_v3": 0.096, "Standard_D4s_v3": 0.192, "Standard_D8s_v3": 0.384,
        "Standard_D2s_v5": 0.096, "Standard_D4s_v5": 0.192, "Standard_D8s_v5": 0.384, "Standard_D16s_v5": 0.768,
        "Standard_D2ds_v5": 0.113, "Standard_D4ds_v5": 0.226, "Standard_D8ds_v5": 0.452, "Standard_D16ds_v5": 0.904,
        "Standard_D2as_v5": 0.086, "Standard_D4as_v5": 0.172, "Standard_D8as_v5": 0.344,
        "Standard_E2s_v5": 0.126, "Standard_E4s_v5": 0.252, "Standard_E8s_v5": 0.504, "Standard_E16s_v5": 1.008,
        "Standard_E4ds_v5": 0.288, "Standard_E8ds_v5": 0.576,
        "Standard_B2ms": 0.0832, "Standard_B4ms": 0.166,
    },
    "gcp": {
        "e2-standard-2": 0.067, "e2-standard-4": 0.134, "e2-standard-8": 0.268, "e2-standard-16": 0.536,
        "n2-standard-2": 0.0971, "n2-standard-4": 0.1942, "n2-standard-8": 0.3885, "n2-standard-16": 0.7769,
        "n2d-standard-2": 0.0845, "n2d-standard-4": 0.169, "n2d-standard-8": 0.338,
        "n2-highmem-2": 0.131, "n2-highmem-4": 0.262, "n2-highmem-8": 0.524,
        "e2-highmem-4": 0.1808, "e2-highmem-8": 0.3617,
        "c3-standard-4": 0.2088, "c3-standard-8": 0.4176,
    },
}

#: Everything else, per cloud. Units are in the key's comment.
SERVICES: dict[str, dict[str, float]] = {
    "aws": {
        "control_plane_hourly": 0.10,      # EKS cluster (standard support)
        "load_balancer_hourly": 0.0225,    # NLB, before LCU charges
        "nat_gateway_hourly": 0.045,       # per NAT gateway, before data processing
        "block_gib_month": 0.08,           # EBS gp3
        "object_gib_month": 0.023,         # S3 Standard (first 50 TB)
        "kms_key_month": 1.00,             # KMS customer-managed key
    },
    "azure": {
        "control_plane_hourly": 0.10,      # AKS Standard tier (uptime SLA)
        "load_balancer_hourly": 0.025,     # Standard Load Balancer, first 5 rules
        "nat_gateway_hourly": 0.045,       # NAT Gateway
        "block_gib_month": 0.15,           # Premium SSD (P-tiers, averaged per GiB)
        "object_gib_month": 0.0208,        # Blob Storage hot, LRS
        "kms_key_month": 1.00,             # Key Vault HSM-protected key (Premium)
    },
    "gcp": {
        "control_plane_hourly": 0.10,      # GKE Standard cluster management fee (a free-tier credit covers one zonal cluster)
        "load_balancer_hourly": 0.025,     # forwarding rule (first 5)
        "nat_gateway_hourly": 0.045,       # Cloud NAT gateway
        "block_gib_month": 0.10,           # pd-balanced
        "object_gib_month": 0.020,         # Cloud Storage Standard, regional
        "kms_key_month": 0.06,             # Cloud KMS software key version
    },
}

#: Assumed data per bucket when a plan cannot know it (the bucket's size is the client's data).
#: Printed with the estimate; override with `python -m lfh cost --bucket-gib N`.
ASSUMED_BUCKET_GIB = 100

#: Clouds whose prices we know; an existing cluster's nodes are someone else's bill.
CLOUDS = tuple(SERVICES)
