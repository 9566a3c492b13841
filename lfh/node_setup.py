"""What the hosts of a node pool must bring for the platform's node-level add-ons, how each cloud's
node image or user data provides it, and how to read that back from what a plan records.

Longhorn (every pool runs longhorn-manager and its CSI plugin) needs, on every node:
- `iscsi`: open-iscsi installed and iscsid running — Longhorn attaches each volume to its node over
  iSCSI, and longhorn-manager exits without it (longhorn.io "Quick Installation: Installation
  Requirements");
- `cryptsetup`: the `cryptsetup` command and the `dm_crypt` kernel module, for the dm-crypt volumes of
  `longhorn-encrypted` (longhorn.io "Volume Encryption").

Per cloud:
- EKS (AL2023): nothing of it is in the EKS AMI (awslabs/amazon-eks-ami installs no iscsi package), so
  the launch template's user data installs it: a MIME multi-part document with one
  `text/x-shellscript` part; for managed node groups on an EKS AMI, EKS appends its own NodeConfig
  part (eksctl docs "Node bootstrapping: AmazonLinux2023"). cloud-init runs the script before the
  kubelet starts: `nodeadm-run.service` is ordered `After=cloud-final.service`
  (amazon-eks-ami templates/al2023/runtime/rootfs/etc/systemd/system/nodeadm-run.service).
- AKS: the Ubuntu node images ship open-iscsi and cryptsetup (Azure/AKS vhd-notes/aks-ubuntu
  AKSUbuntu-2204 and -2404: `open-iscsi … [installed]`, `cryptsetup … [installed]`); Azure Linux 3
  ships `iscsi-initiator-utils` but only `cryptsetup-libs`, no `cryptsetup` command
  (vhd-notes/AzureLinuxv3), and iSCSI on Azure Linux nodes was broken for CSI drivers
  (Azure/AKS#4153). Pools that run Longhorn use `osSKU: Ubuntu`. AKS supports no custom node user data.
- GKE: Container-Optimized OS has no package manager and a read-only root (Longhorn supports it only
  through its own privileged "GKE COS node agent"); the Ubuntu image contains open-iscsi (longhorn/
  longhorn README: "For GKE, recommended Ubuntu as guest OS image since it contains open-iscsi
  already"), so pools use `imageType: UBUNTU_CONTAINERD`. Ubuntu enables iscsid by socket activation.
"""
from __future__ import annotations

import base64
import binascii
import email
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

ISCSI = "iscsi"
CRYPTSETUP = "cryptsetup"
#: Why each capability is needed (shown in findings).
WHY = {
    ISCSI: "Longhorn attaches volumes over iSCSI: open-iscsi installed and iscsid running",
    CRYPTSETUP: "longhorn-encrypted volumes need the cryptsetup command and the dm_crypt module",
}

#: AL2023 shell steps per capability, run by cloud-init as root before the kubelet starts.
AL2023_STEPS: dict[str, list[str]] = {
    ISCSI: ["dnf install -y iscsi-initiator-utils",
            "echo iscsi_tcp > /etc/modules-load.d/iscsi_tcp.conf", "modprobe iscsi_tcp",
            "systemctl enable --now iscsid"],
    CRYPTSETUP: ["dnf install -y cryptsetup",
                 "echo dm_crypt > /etc/modules-load.d/dm_crypt.conf", "modprobe dm_crypt"],
}
#: Fixed MIME boundary: a random one would change the launch template (and roll every node) on each run.
BOUNDARY = "==LFH-NODE-SETUP=="
#: AKS `osSKU` values and GKE `imageType` prefixes whose images bring both capabilities.
AKS_UBUNTU_SKUS = ("Ubuntu", "Ubuntu2204", "Ubuntu2404")
GKE_UBUNTU_PREFIX = "UBUNTU"


def al2023_user_data(capabilities: list[str]) -> str:
    """Base64 MIME multi-part user data (as `LaunchTemplate.userData` takes it) installing ``capabilities``."""
    script = ["#!/bin/bash", "# lfh node set-up: " + ", ".join(capabilities), "set -euo pipefail"]
    for cap in capabilities:
        script += [f"# {cap}: {WHY[cap]}", *AL2023_STEPS[cap]]
    doc = MIMEMultipart(boundary=BOUNDARY)
    doc.attach(MIMEText("\n".join(script) + "\n", "x-shellscript"))
    return base64.b64encode(doc.as_bytes()).decode()


def shell_scripts(user_data: Any) -> list[str]:
    """The shell scripts in a (base64) user data document: MIME `text/x-shellscript` parts, or the
    whole document when it is a plain script."""
    if not isinstance(user_data, str) or not user_data:
        return []
    try:
        text = base64.b64decode(user_data, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = user_data
    if text.startswith("#!"):
        return [text]
    message = email.message_from_string(text)
    return [str(part.get_payload(decode=True).decode()) for part in message.walk()
            if part.get_content_type() == "text/x-shellscript"]


def al2023_capabilities(user_data: Any) -> set[str]:
    """The capabilities whose every step the user data's scripts run."""
    scripts = "\n".join(shell_scripts(user_data))
    return {cap for cap, steps in AL2023_STEPS.items() if all(step in scripts for step in steps)}


def image_capabilities(resource_type: str, inputs: dict[str, Any]) -> set[str] | None:
    """What the node image of a recorded AKS/GKE pool brings (None: not a pool whose image decides)."""
    if resource_type == "gcp:container/nodePool:NodePool":
        image = str((inputs.get("nodeConfig") or {}).get("imageType") or "")
        return {ISCSI, CRYPTSETUP} if image.upper().startswith(GKE_UBUNTU_PREFIX) else set()
    if resource_type.startswith("azure-native:containerservice:") and resource_type.endswith(":AgentPool"):
        return {ISCSI, CRYPTSETUP} if inputs.get("osSKU") in AKS_UBUNTU_SKUS else set()
    return None


__all__ = ["CRYPTSETUP", "ISCSI", "WHY", "al2023_capabilities", "al2023_user_data", "image_capabilities",
           "shell_scripts"]
