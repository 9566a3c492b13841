"""EKS on raw AWS resources (no pulumi_eks/awsx: they render nothing under mocks).

Hardening follows terraform-aws-eks v21 and the EKS best-practices guide; each choice says why.
"""
from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from lfh.config import PlatformConfig
from lfh.config.cluster import AwsCluster as AwsClusterConfig
from lfh.config.cluster import AwsNodePool
from lfh.node_setup import CRYPTSETUP, ISCSI, WHY, al2023_user_data

from ..k8s import DEFAULT_CLASS_ANNOTATION, KubeObject, child_opts, labels
from ._common import (
    service_account_ref,
    ADDON_SERVICE_ACCOUNTS,
    ARCHIVE_PREFIX,
    DAILY_PREFIX,
    LONGHORN_PREFIX,
    data_opts,
    node_labels,
    kubeconfig_yaml,
    scheduling,
    split_cidr,
    tags as base_tags,
    taint_effect_upper,
)
from . import secret_writers
from .aws_autoscaler import ClusterAutoscaler
from .contract import BackupStorage, ClusterContract, NodePool, ServiceAccountBinding, SnapshotSupport

#: Control-plane logs shipped to CloudWatch (audit/api/authenticator are the HIPAA-relevant ones).
CONTROL_PLANE_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
STORAGE_CLASS = "gp3-encrypted"
#: AWS-managed policies of the EKS add-ons' IRSA roles (below `arn:<partition>:iam::aws:policy/`).
CNI_POLICY = "AmazonEKS_CNI_Policy"
EBS_CSI_POLICY = "service-role/AmazonEBSCSIDriverPolicy"


def _policy(statements: list[dict[str, Any]]) -> pulumi.Output[str]:
    """An IAM policy document; statements may hold Outputs (ARNs of resources being created)."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements})


class EksCluster(pulumi.ComponentResource):
    """An EKS cluster in its own VPC, with CMK encryption, private API, IRSA and three node groups."""

    contract: ClusterContract

    def __init__(self, name: str, platform: PlatformConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:cluster:EksCluster", name, None, opts)
        cfg: AwsClusterConfig = platform.cluster  # type: ignore[assignment]
        self.cfg, self.platform, self.name = cfg, platform, name
        self.tags = base_tags(platform)
        self.phi_tags = base_tags(platform, phi=True)
        # One explicit provider per platform: the region is config, never the ambient AWS_REGION.
        self.aws = aws.Provider(f"{name}-aws", region=cfg.region, default_tags={"tags": self.tags},
                                opts=pulumi.ResourceOptions(parent=self))
        invoke = pulumi.InvokeOutputOptions(parent=self, provider=self.aws)
        caller = aws.get_caller_identity_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke)
        self.account_id = caller.account_id
        self.partition = partition.partition

        # Short stable suffix: a re-created platform must not collide with KMS aliases and log
        # groups still in their deletion windows.
        self.suffix = random.RandomId(f"{name}-suffix", byte_length=3, opts=self._opts()).hex
        self.cluster_name = self.suffix.apply(lambda s: f"{platform.name}-{s}")

        self._keys()
        self._network()
        self._control_plane()
        self._network_addon()
        self._node_groups()
        self._backup_bucket()
        self._access_logs()
        self._addon_identities()
        self._addons()
        self._workload_logs()
        self._kubernetes()

        cloud = {
            "kind": "aws",
            "region": cfg.region,
            "kmsKeyId": self.data_key.arn,
            "secretsPrefix": platform.name,
            "accountId": self.account_id,
            "oidcProviderArn": self.oidc.arn,
            "oidcIssuer": self.oidc_issuer,
            "partition": self.partition,
            # Where the S3 data events of the client buckets go (components/cloud/aws.py checks its
            # bucket is covered and the retention meets the client's policy).
            "accessLogs": {"kind": "cloudtrail", "trail": self.trail_name, "bucket": self.audit_bucket.bucket,
                           "retentionDays": cfg.access_logs.retention_days, "bucketPrefix": self.client_bucket_prefix},
        }
        if self.replica_region is not None:
            # Client file buckets replicate into the same second region, under its own key.
            cloud["replication"] = {"region": self.replica_region, "kmsKeyId": self.replica_key.arn}
        lb = {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}
        if cfg.internal_load_balancer:
            lb["service.beta.kubernetes.io/aws-load-balancer-internal"] = "true"
        self.contract = ClusterContract(
            name=self.cluster.name,
            kubernetes_version=platform.kubernetes_version,
            region=cfg.region,
            provider=self.k8s,
            kubeconfig=self.kubeconfig,
            backup=BackupStorage(
                flavour="s3",
                bucket=self.bucket.bucket,
                region=cfg.region,
                kms_key_id=self.data_key.arn,
                replica_bucket=self.replica.bucket if self.replica is not None else "",
                extra={"s3ForcePathStyle": False},
            ),
            storage_class=STORAGE_CLASS,
            kms_key_id=self.data_key.arn,
            secret_store_provider={
                "aws": {
                    "service": "SecretsManager",
                    "region": cfg.region,
                    "auth": {"jwt": {"serviceAccountRef": service_account_ref("external-secrets")}},
                }
            },
            addon_identities=self.bindings,
            cloud=cloud,
            ready=self.ready,
            snapshots=SnapshotSupport(
                drivers={STORAGE_CLASS: "ebs.csi.aws.com"}, controller="eks-addon",
                # EBS snapshots of an encrypted volume are encrypted with the volume's key (EBS user
                # guide, "Amazon EBS encryption"); tags say whose they are (aws-ebs-csi-driver docs
                # snapshot.md/tagging.md: `tagSpecification_N` in VolumeSnapshotClass parameters, v1.6.0+).
                parameters={"ebs.csi.aws.com": {"tagSpecification_1": f"lfh:platform={platform.name}"}}),
            secret_writer=secret_writers.aws(self.aws, platform.name, self.data_key.arn, self.tags),
            dns01_solver=(
                {
                    "selector": {"dnsZones": [z.name for z in cfg.dns_zones]},
                    # IRSA on the cert-manager service account: ambient credentials, no keys.
                    "dns01": {"route53": {"region": cfg.region}},
                }
                if cfg.dns_zones else None
            ),
            load_balancer_annotations=lb,
            scheduling=scheduling(cfg.node_pools),
            # EKS puts its control-plane ENIs into the cluster's subnets (the private ones here): the
            # `kubernetes` Service's endpoints and the source of webhook calls are addresses there
            # (EKS user guide, "Amazon EKS networking requirements": cross-account ENIs).
            api_server_cidrs=list(self.private_cidrs),
            node_cidrs=list(self.private_cidrs),
            node_pools=self.pool_facts,
            metrics_api=f"EKS community add-on metrics-server {cfg.metrics_server_version}",
            # Since 1.30 EKS leaves gp2 without the default annotation (EKS user guide, "Kubernetes
            # standard support versions: 1.30"); the platform chooses its own default class.
            builtin_storage_classes={"gp2": False},
            log_agent="cloudwatch-observability",
        )
        self.register_outputs({"clusterName": self.cluster.name, "endpoint": self.cluster.endpoint,
                               "oidcProviderArn": self.oidc.arn, "backupBucket": self.bucket.bucket})

    # ------------------------------------------------------------ helpers

    def _opts(self, **kw: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self.aws, **kw)

    def _data_opts(self, **kw: Any) -> pulumi.ResourceOptions:
        return data_opts(self, provider=self.aws, **kw)

    def _arn(self, service: str, resource: str, region: bool = True) -> pulumi.Output[str]:
        return pulumi.Output.all(self.partition, self.account_id).apply(
            lambda a: f"arn:{a[0]}:{service}:{self.cfg.region if region else ''}:{a[1]}:{resource}"
        )

    # ------------------------------------------------------------ KMS

    def _kms_key(self, purpose: str, description: str, extra_statements: list[dict[str, Any]],
                 region: str | None = None) -> aws.kms.Key:
        root = pulumi.Output.all(self.partition, self.account_id).apply(lambda a: f"arn:{a[0]}:iam::{a[1]}:root")

        policy = _policy([
            # Key administration stays with the account's IAM (no lock-out), usage is granted per role.
            {"Sid": "AccountAdmin", "Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"},
            *extra_statements,
        ])

        key = aws.kms.Key(
            f"{self.name}-kms-{purpose}",
            description=description,
            enable_key_rotation=True,  # yearly automatic rotation of the key material
            rotation_period_in_days=365,
            deletion_window_in_days=self.cfg.kms_deletion_window_days,
            policy=policy,
            region=region,
            tags=self.phi_tags,
            opts=self._data_opts(),
        )
        aws.kms.Alias(
            f"{self.name}-kms-{purpose}-alias",
            name=self.suffix.apply(lambda s: f"alias/lfh/{self.platform.name}-{s}/{purpose}"),
            target_key_id=key.key_id,
            region=region,
            opts=self._opts(),
        )
        return key

    def _keys(self) -> None:
        region = self.cfg.region
        self.trail_name = self.suffix.apply(lambda s: f"lfh-{self.platform.name}-{s}-data-access")
        self.trail_arn = pulumi.Output.all(self.partition, self.account_id, self.trail_name).apply(
            lambda a: f"arn:{a[0]}:cloudtrail:{region}:{a[1]}:trail/{a[2]}")
        # Separate keys: the one wrapping etcd's Secrets is usable by EKS only; data (volumes,
        # backups, logs, Secrets Manager) has its own.
        self.eks_key = self._kms_key("eks", f"EKS secrets envelope encryption for {self.platform.name}", [])
        logs_principal = f"logs.{region}.amazonaws.com"
        self.data_key = self._kms_key("data", f"Platform data (EBS, backups, logs, secrets) for {self.platform.name}",
                                      self._data_key_statements(region, logs_principal))

    def _data_key_statements(self, region: str, logs_principal: str) -> list[dict[str, Any]]:
        account = self.account_id
        return [
            # CloudWatch Logs may use the key only for this account's log groups.
            {"Sid": "CloudWatchLogs", "Effect": "Allow", "Principal": {"Service": logs_principal},
             "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
             "Resource": "*",
             "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": pulumi.Output.all(self.partition, account).apply(
                 lambda a: f"arn:{a[0]}:logs:{region}:{a[1]}:log-group:*")}}},
            # CloudTrail encrypts the data-access log files of this platform's trail (CloudTrail user guide,
            # "Configure AWS KMS key policies for CloudTrail": GenerateDataKey* with the trail's ARN as
            # encryption context and source, DescribeKey). Readers decrypt through IAM.
            {"Sid": "CloudTrailEncryptLogs", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "kms:GenerateDataKey*", "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceArn": self.trail_arn},
                           "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": pulumi.Output.all(self.partition, account).apply(
                               lambda a: f"arn:{a[0]}:cloudtrail:*:{a[1]}:trail/*")}}},
            {"Sid": "CloudTrailDescribeKey", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "kms:DescribeKey", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceArn": self.trail_arn}}},
            # EBS through EC2 only, for principals of this account: covers the Auto Scaling
            # service-linked role that launches node groups (it may not exist yet when the key is
            # created, so it cannot be named) and the EBS CSI driver. Same shape as aws/ebs.
            {"Sid": "EbsViaEc2", "Effect": "Allow", "Principal": {"AWS": "*"},
             "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"],
             "Resource": "*",
             "Condition": {"StringEquals": {"kms:CallerAccount": account, "kms:ViaService": f"ec2.{region}.amazonaws.com"}}},
        ]

    # ------------------------------------------------------------ network

    def _network(self) -> None:
        cfg, n = self.cfg, self.name
        azs = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOutputOptions(parent=self, provider=self.aws))
        count = cfg.availability_zones
        self.vpc = aws.ec2.Vpc(f"{n}-vpc", cidr_block=cfg.vpc_cidr, enable_dns_hostnames=True, enable_dns_support=True,
                               tags={**self.tags, "Name": f"{self.platform.name}-vpc"}, opts=self._opts())
        # Default security group with no rules: nothing can accidentally use a permissive default (CIS 5.4).
        aws.ec2.DefaultSecurityGroup(f"{n}-default-sg", vpc_id=self.vpc.id, ingress=[], egress=[], tags=self.tags, opts=self._opts())
        # Four /18s: three private (nodes, pods via VPC CNI need room), the fourth split into public /20s.
        private_cidrs = split_cidr(cfg.vpc_cidr, count, 2) if count <= 3 else split_cidr(cfg.vpc_cidr, count, 3)
        last = split_cidr(cfg.vpc_cidr, 4, 2)[3] if count <= 3 else split_cidr(cfg.vpc_cidr, 8, 3)[7]
        public_cidrs = split_cidr(last, count, 2 if count <= 3 else 3)
        self.private_cidrs = list(private_cidrs)
        igw = aws.ec2.InternetGateway(f"{n}-igw", vpc_id=self.vpc.id, tags=self.tags, opts=self._opts())
        public_rt = aws.ec2.RouteTable(f"{n}-public-rt", vpc_id=self.vpc.id,
                                       routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
                                       tags={**self.tags, "Name": f"{self.platform.name}-public"}, opts=self._opts())
        self.private_subnets: list[aws.ec2.Subnet] = []
        nats: list[aws.ec2.NatGateway] = []
        for i in range(count):
            az = azs.names.apply(lambda names, i=i: names[i])
            pub = aws.ec2.Subnet(
                f"{n}-public-{i}", vpc_id=self.vpc.id, cidr_block=public_cidrs[i], availability_zone=az,
                map_public_ip_on_launch=False,  # only NAT gateways and load balancers live here
                tags={**self.tags, "Name": f"{self.platform.name}-public-{i}", "kubernetes.io/role/elb": "1"},
                opts=self._opts())
            aws.ec2.RouteTableAssociation(f"{n}-public-{i}-rta", subnet_id=pub.id, route_table_id=public_rt.id, opts=self._opts())
            if i == 0 or not cfg.single_nat_gateway:
                eip = aws.ec2.Eip(f"{n}-nat-{i}-eip", domain="vpc", tags=self.tags, opts=self._opts())
                nats.append(aws.ec2.NatGateway(f"{n}-nat-{i}", allocation_id=eip.id, subnet_id=pub.id,
                                               tags=self.tags, opts=self._opts(depends_on=[igw])))
            priv = aws.ec2.Subnet(
                f"{n}-private-{i}", vpc_id=self.vpc.id, cidr_block=private_cidrs[i], availability_zone=az,
                tags={**self.tags, "Name": f"{self.platform.name}-private-{i}", "kubernetes.io/role/internal-elb": "1"},
                opts=self._opts())
            rt = aws.ec2.RouteTable(f"{n}-private-{i}-rt", vpc_id=self.vpc.id,
                                    routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nats[-1].id}],
                                    tags={**self.tags, "Name": f"{self.platform.name}-private-{i}"}, opts=self._opts())
            aws.ec2.RouteTableAssociation(f"{n}-private-{i}-rta", subnet_id=priv.id, route_table_id=rt.id, opts=self._opts())
            self.private_subnets.append(priv)

        # VPC flow logs (all traffic) to a CMK-encrypted log group: network forensics for HIPAA.
        flow_group = aws.cloudwatch.LogGroup(
            f"{n}-flow-logs",
            name=self.suffix.apply(lambda s: f"/lfh/{self.platform.name}-{s}/vpc-flow-logs"),
            retention_in_days=cfg.log_retention_days, kms_key_id=self.data_key.arn, tags=self.tags,
            opts=self._data_opts())
        flow_role = aws.iam.Role(
            f"{n}-flow-logs-role",
            # Confused-deputy guard: only flow logs of this account may assume it.
            assume_role_policy=_policy([{"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                                         "Action": "sts:AssumeRole",
                                         "Condition": {"StringEquals": {"aws:SourceAccount": self.account_id}}}]),
            tags=self.tags, opts=self._opts())
        aws.iam.RolePolicy(
            f"{n}-flow-logs-policy", role=flow_role.id,
            policy=flow_group.arn.apply(lambda arn: _policy([{"Effect": "Allow", "Action": [
                "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"], "Resource": [arn, f"{arn}:*"]}])),
            opts=self._opts())
        aws.ec2.FlowLog(f"{n}-flow-log", vpc_id=self.vpc.id, traffic_type="ALL", log_destination_type="cloud-watch-logs",
                        log_destination=flow_group.arn, iam_role_arn=flow_role.arn, max_aggregation_interval=60,
                        tags=self.tags, opts=self._opts())

    # ------------------------------------------------------------ control plane

    def _control_plane(self) -> None:
        cfg, n = self.cfg, self.name
        role = aws.iam.Role(
            f"{n}-cluster-role",
            assume_role_policy=_policy([{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"},
                                         "Action": ["sts:AssumeRole", "sts:TagSession"]}]),
            tags=self.tags, opts=self._opts())
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{n}-cluster-role-eks", role=role.name,
                policy_arn=self.partition.apply(lambda p: f"arn:{p}:iam::aws:policy/AmazonEKSClusterPolicy"),
                opts=self._opts()),
        ]
        # EKS writes to exactly this group; creating it first lets us set retention and the CMK.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{n}-control-plane-logs",
            name=self.cluster_name.apply(lambda c: f"/aws/eks/{c}/cluster"),
            retention_in_days=cfg.log_retention_days, kms_key_id=self.data_key.arn, tags=self.tags,
            opts=self._data_opts())
        encryption = None
        if cfg.secrets_encryption:
            # Envelope encryption of Secrets in etcd with our CMK (weaker only via `secretsEncryption: false`).
            encryption = {"resources": ["secrets"], "provider": {"key_arn": self.eks_key.arn}}
        self.cluster = aws.eks.Cluster(
            f"{n}-eks",
            name=self.cluster_name,
            version=self.platform.kubernetes_version,
            role_arn=role.arn,
            vpc_config={
                "subnet_ids": [s.id for s in self.private_subnets],
                # Private API endpoint; public only when explicitly allowed, and then only to listed CIDRs.
                "endpoint_private_access": True,
                "endpoint_public_access": cfg.api.public,
                "public_access_cidrs": list(cfg.api.public_access_cidrs) if cfg.api.public else None,
            },
            access_config={
                # Access entries only (no aws-auth ConfigMap). The creator (the Pulumi deployer) keeps
                # admin so the platform can be installed; humans come from adminRoleArns.
                "authentication_mode": "API",
                "bootstrap_cluster_creator_admin_permissions": True,
            },
            encryption_config=encryption,
            enabled_cluster_log_types=CONTROL_PLANE_LOGS,
            kubernetes_network_config={"ip_family": "ipv4"},
            # Standard support only: an unnoticed extended-support version costs 6x.
            upgrade_policy={"support_type": "STANDARD"},
            deletion_protection=True,
            tags=self.tags,
            opts=self._data_opts(depends_on=[*attachments, self.log_group]),
        )
        issuer_url = self.cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
        self.oidc_issuer = issuer_url.apply(lambda u: u.removeprefix("https://"))
        # IRSA: pods assume roles through the cluster's OIDC issuer, scoped per service account.
        self.oidc = aws.iam.OpenIdConnectProvider(
            f"{n}-oidc", url=issuer_url, client_id_lists=["sts.amazonaws.com"], tags=self.tags, opts=self._opts())
        for i, arn in enumerate(cfg.admin_role_arns):
            entry = aws.eks.AccessEntry(f"{n}-admin-{i}", cluster_name=self.cluster.name, principal_arn=arn, type="STANDARD",
                                        tags=self.tags, opts=self._opts())
            aws.eks.AccessPolicyAssociation(
                f"{n}-admin-{i}-policy", cluster_name=self.cluster.name, principal_arn=arn,
                policy_arn=self.partition.apply(lambda p: f"arn:{p}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"),
                access_scope={"type": "cluster"}, opts=self._opts(depends_on=[entry]))

    # ------------------------------------------------------------ node groups

    def _network_addon(self) -> None:
        """The VPC CNI add-on with its own IRSA role, in place before any node joins (the node role
        carries no CNI rights)."""
        n = self.name
        # AWS's managed policy, kept current by AWS as the CNI gains API calls (EKS user guide, "Configure
        # Amazon VPC CNI plugin to use IRSA": attach AmazonEKS_CNI_Policy), instead of a hand-copied list.
        cni_role = self._irsa_role("vpc-cni", "kube-system", "aws-node", None, managed=(CNI_POLICY,))
        self.cni_addon = aws.eks.Addon(
            f"{n}-addon-vpc-cni", cluster_name=self.cluster.name, addon_name="vpc-cni",
            service_account_role_arn=cni_role.arn, resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            # Enforce Kubernetes NetworkPolicy in the VPC CNI (the platform relies on it).
            configuration_values=json.dumps({"enableNetworkPolicy": "true"}),
            # aws-node starts with the role's policy attached (it assigns pod IPs from its first second).
            tags=self.tags, opts=self._opts(depends_on=cni_role.lfh_grants))

    def _node_groups(self) -> None:
        n = self.name
        role = aws.iam.Role(
            f"{n}-node-role",
            assume_role_policy=_policy([{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                         "Action": "sts:AssumeRole"}]),
            tags=self.tags, opts=self._opts())
        # No CNI policy on the node role: the vpc-cni add-on gets its own IRSA role instead.
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{n}-node-role-{short}", role=role.name,
                policy_arn=self.partition.apply(lambda p, pol=pol: f"arn:{p}:iam::aws:policy/{pol}"), opts=self._opts())
            for short, pol in [("worker", "AmazonEKSWorkerNodePolicy"), ("ecr", "AmazonEC2ContainerRegistryPullOnly")]
        ]
        self.node_groups: list[aws.eks.NodeGroup] = []
        self.pool_facts: list[NodePool] = []
        # Longhorn runs on every pool (its manager and CSI plugin follow the volumes), so every node
        # installs what it needs from the host (lfh/node_setup.py); without Longhorn nothing is installed.
        setup = [] if self.platform.storage.use_cluster_storage_class else [ISCSI, CRYPTSETUP]
        for pool_name in ("system", "apps", "db"):
            pool: AwsNodePool = getattr(self.cfg.node_pools, pool_name)
            group, lt = self._node_group(pool_name, pool, role, [*attachments, self.cni_addon], setup)
            self.node_groups.append(group)
            self.pool_facts.append(NodePool(
                name=pool_name, labels=node_labels(pool_name, pool),
                taints=[{"key": t.key, "value": t.value, "effect": t.effect} for t in pool.taints],
                min_nodes=pool.min_size, max_nodes=pool.max_size,
                # The Cluster Autoscaler below discovers every managed node group of the cluster.
                autoscaler="cluster-autoscaler",
                provides={cap: f"launch template user data ({WHY[cap]})" for cap in setup},
                resource=group, setup_resource=lt))

    def _node_group(self, pool_name: str, pool: AwsNodePool, role: aws.iam.Role, deps: list[pulumi.Resource],
                    setup: list[str]) -> tuple[aws.eks.NodeGroup, aws.ec2.LaunchTemplate]:
        n = f"{self.name}-{pool_name}"
        lt = aws.ec2.LaunchTemplate(
            f"{n}-lt",
            name_prefix=self.cluster_name.apply(lambda c: f"{c}-{pool_name}-"),
            # IMDSv2 only, one hop: pods cannot reach the node's instance credentials.
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required",
                              "http_put_response_hop_limit": 1, "instance_metadata_tags": "disabled"},
            block_device_mappings=[{
                "device_name": "/dev/xvda",
                "ebs": {"volume_size": pool.disk_size_gb, "volume_type": "gp3", "encrypted": "true",
                        "kms_key_id": self.data_key.arn, "delete_on_termination": "true"},
            }],
            tag_specifications=[{"resource_type": t, "tags": {**self.phi_tags, "lfh:pool": pool_name}}
                                for t in ("instance", "volume", "network-interface")],
            # MIME multi-part with a shell part; EKS appends its NodeConfig part (no custom AMI).
            user_data=al2023_user_data(setup) if setup else None,
            update_default_version=True,
            tags=self.tags,
            opts=self._opts())
        return aws.eks.NodeGroup(
            f"{n}-ng",
            cluster_name=self.cluster.name,
            node_group_name_prefix=f"{pool_name}-",
            node_role_arn=role.arn,
            subnet_ids=[s.id for s in self.private_subnets],
            ami_type="AL2023_x86_64_STANDARD",
            capacity_type=pool.capacity_type,
            instance_types=pool.instance_types,
            scaling_config={"min_size": pool.min_size, "max_size": pool.max_size,
                            "desired_size": pool.desired_size if pool.desired_size is not None else pool.min_size},
            update_config={"max_unavailable_percentage": 33},
            labels=node_labels(pool_name, pool),
            taints=[{"key": t.key, "value": t.value, "effect": taint_effect_upper(t)} for t in pool.taints],
            launch_template={"id": lt.id, "version": lt.latest_version.apply(str)},
            tags={**self.tags, "lfh:pool": pool_name},
            # The cluster autoscaler owns the desired size after creation.
            opts=self._opts(depends_on=deps, ignore_changes=["scalingConfig.desiredSize"]),
        ), lt

    # ------------------------------------------------------------ backup bucket

    def _bucket_common(self, key: str, bucket: aws.s3.Bucket, block_public: bool, kms_key: aws.kms.Key,
                       region: str | None = None, trail_writer: bool = False) -> list[pulumi.Resource]:
        opts = self._opts()

        def statements(arn: str, trail_arn: str = "", account: str = "") -> pulumi.Output[str]:
            out: list[dict[str, Any]] = [{
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]
            if trail_writer:
                # CloudTrail user guide, "Amazon S3 bucket policy for CloudTrail": this trail only.
                out += [{"Sid": "CloudTrailAclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
                         "Action": "s3:GetBucketAcl", "Resource": arn, "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}}},
                        {"Sid": "CloudTrailWrite", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
                         "Action": "s3:PutObject", "Resource": f"{arn}/AWSLogs/{account}/*",
                         "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn}}}]
            return _policy(out)

        out: list[pulumi.Resource] = [
            aws.s3.BucketVersioning(f"{key}-versioning", bucket=bucket.id, region=region,
                                    versioning_configuration={"status": "Enabled"}, opts=opts),
            aws.s3.BucketServerSideEncryptionConfiguration(
                f"{key}-sse", bucket=bucket.id, region=region,
                rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": kms_key.arn},
                        "bucket_key_enabled": True}],
                opts=opts),
            # ACLs off: the bucket owner owns every object; access is IAM only.
            aws.s3.BucketOwnershipControls(f"{key}-ownership", bucket=bucket.id, region=region,
                                           rule={"object_ownership": "BucketOwnerEnforced"}, opts=opts),
            aws.s3.BucketPolicy(
                f"{key}-policy", bucket=bucket.id, region=region,
                policy=pulumi.Output.all(bucket.arn, self.trail_arn, self.account_id).apply(lambda a: statements(*a)),
                opts=opts),
        ]
        # Object events (deletes above all) to EventBridge's default bus, where an alert rule can watch them;
        # S3 sends them at no charge (S3 user guide, "Using EventBridge").
        out.append(aws.s3.BucketNotification(f"{key}-events", bucket=bucket.id, region=region, eventbridge=True, opts=opts))
        if block_public:
            out.append(aws.s3.BucketPublicAccessBlock(
                f"{key}-public-access-block", bucket=bucket.id, region=region, block_public_acls=True,
                block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True, opts=opts))
        return out

    def _backup_bucket(self) -> None:
        n, b = self.name, self.cfg.backup
        # No Object Lock here: Velero rewrites and deletes its own objects.
        self.bucket = aws.s3.Bucket(
            f"{n}-backups",
            bucket=self.suffix.apply(lambda s: f"lfh-{self.platform.name[:36]}-backups-{s}"),
            object_lock_enabled=False,
            tags=self.phi_tags,
            opts=self._data_opts())
        deps = self._bucket_common(f"{n}-backups", self.bucket, not b.disable_public_access_block, self.data_key)
        aws.s3.BucketLifecycleConfiguration(
            f"{n}-backups-lifecycle",
            bucket=self.bucket.id,
            rules=[
                {"id": "daily-expire", "status": "Enabled", "filter": {"prefix": f"{DAILY_PREFIX}/"},
                 "expiration": {"days": b.daily_expire_days}},
                # Glacier Instant Retrieval: readable at once, so the 4 h RTO holds for archives.
                {"id": "archive-tier", "status": "Enabled", "filter": {"prefix": f"{ARCHIVE_PREFIX}/"},
                 "transitions": [{"days": b.archive_transition_days, "storage_class": "GLACIER_IR"}],
                 "expiration": {"days": b.archive_expire_days}},
                {"id": "noncurrent-expire", "status": "Enabled", "filter": {},
                 "noncurrent_version_expiration": {"noncurrent_days": b.noncurrent_expire_days},
                 "abort_incomplete_multipart_upload": {"days_after_initiation": 7}},
            ],
            opts=self._opts(depends_on=deps))
        self.replica = None
        self.replica_region: str | None = None
        if b.replication.enabled:
            self._replica(deps)

    def _replica(self, deps: list[pulumi.Resource]) -> None:
        n, rep, b = self.name, self.cfg.backup.replication, self.cfg.backup
        region = rep.region if rep.region and rep.region != self.cfg.region else None
        # A KMS key serves one region: a replica elsewhere gets its own CMK there.
        replica_key = self.data_key
        if region is not None:
            replica_key = self._kms_key("replica", f"WORM backup replica of {self.platform.name} in {region}", [], region=region)
            self.replica_region, self.replica_key = region, replica_key
        # WORM copy: Object Lock only on the replica, never on Velero's working bucket.
        self.replica = aws.s3.Bucket(
            f"{n}-backups-replica",
            bucket=self.suffix.apply(lambda s: f"lfh-{self.platform.name[:31]}-backups-worm-{s}"),
            object_lock_enabled=True,
            region=region,
            tags=self.phi_tags,
            opts=self._data_opts())
        rdeps = self._bucket_common(f"{n}-backups-replica", self.replica, True, replica_key, region)
        aws.s3.BucketObjectLockConfiguration(
            f"{n}-backups-replica-lock", bucket=self.replica.id, region=region,
            rule={"default_retention": {"mode": rep.lock_mode, "days": rep.lock_days}},
            opts=self._opts(depends_on=rdeps))
        # Copies expire once their lock has run out and the archive tier would have dropped them.
        keep = max(rep.lock_days, b.archive_expire_days)
        aws.s3.BucketLifecycleConfiguration(
            f"{n}-backups-replica-lifecycle", bucket=self.replica.id, region=region,
            rules=[{"id": "expire-after-lock", "status": "Enabled", "filter": {},
                    "expiration": {"days": keep},
                    "noncurrent_version_expiration": {"noncurrent_days": 1},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7}}],
            opts=self._opts(depends_on=rdeps))
        role = aws.iam.Role(
            f"{n}-replication-role",
            assume_role_policy=_policy([{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole",
                                         "Condition": {"StringEquals": {"aws:SourceAccount": self.account_id}}}]),
            tags=self.tags, opts=self._opts())
        policy = aws.iam.RolePolicy(
            f"{n}-replication-policy", role=role.id,
            policy=_policy([
                {"Effect": "Allow", "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"], "Resource": [self.bucket.arn]},
                {"Effect": "Allow", "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                                               "s3:GetObjectVersionTagging", "s3:GetObjectRetention", "s3:GetObjectLegalHold"],
                 "Resource": [self.bucket.arn.apply(lambda a: f"{a}/*")]},
                {"Effect": "Allow", "Action": ["s3:ReplicateObject", "s3:ReplicateTags"],
                 "Resource": [self.replica.arn.apply(lambda a: f"{a}/*")]},
                {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [self.data_key.arn]},
                {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": [replica_key.arn]},
            ]),
            opts=self._opts())
        aws.s3.BucketReplicationConfig(
            f"{n}-backups-replication", bucket=self.bucket.id, role=role.arn,
            rules=[{
                "id": "worm-copy", "status": "Enabled", "filter": {},
                # Deletes are not replicated: the copy survives a compromised or buggy Velero.
                "delete_marker_replication": {"status": "Disabled"},
                "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
                "destination": {"bucket": self.replica.arn, "storage_class": "GLACIER_IR",
                                "encryption_configuration": {"replica_kms_key_id": replica_key.arn}},
            }],
            # Both buckets must be versioned before replication can be configured.
            opts=self._opts(depends_on=[*deps, *rdeps, policy]))

    # ------------------------------------------------------------ access logs (HIPAA 164.312(b))

    def _access_logs(self) -> None:
        """Every read and write of an object in the backup buckets and in every client bucket of this platform,
        recorded by CloudTrail (S3 data events) into an audit bucket encrypted with the platform data key and
        kept `accessLogs.retentionDays`.

        Why CloudTrail and not S3 server access logs: a server-access-log target bucket cannot use SSE-KMS
        ("Default server-side encryption with AWS KMS keys (SSE-KMS) is not supported", S3 user guide,
        "Enabling Amazon S3 server access logging"; awsdocs/amazon-s3-developer-guide#38: "we support SSE-S3
        for server access log delivery buckets. You can also use AWS CloudTrail … more configurable encryption
        options"), so the logs of PHI buckets would sit under a weaker key than the data. CloudTrail encrypts
        with our CMK, names the IAM principal of each request and signs digest files (log file validation).
        One trail covers all clients: a region holds at most 5 trails (CloudTrail quotas, not adjustable)."""
        n, cfg = self.name, self.cfg
        #: Client buckets are named `<platform>-<client>-<env>-<bucket>` (components/cloud/aws.py).
        self.client_bucket_prefix = f"{self.platform.name}-"
        self.audit_bucket = aws.s3.Bucket(
            f"{n}-audit",
            bucket=self.suffix.apply(lambda s: f"lfh-{self.platform.name[:38]}-audit-{s}"),
            object_lock_enabled=False,
            tags=self.tags,
            opts=self._data_opts())
        deps = self._bucket_common(f"{n}-audit", self.audit_bucket, True, self.data_key, trail_writer=True)
        aws.s3.BucketLifecycleConfiguration(
            f"{n}-audit-lifecycle", bucket=self.audit_bucket.id,
            rules=[{"id": "access-log-retention", "status": "Enabled", "filter": {},
                    "expiration": {"days": cfg.access_logs.retention_days},
                    # A log file deleted or overwritten stays recoverable for as long as the logs are kept.
                    "noncurrent_version_expiration": {"noncurrent_days": cfg.access_logs.retention_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7}}],
            opts=self._opts(depends_on=deps))
        prefixes = [self.bucket.arn.apply(lambda a: f"{a}/")]
        if self.replica is not None:
            prefixes.append(self.replica.arn.apply(lambda a: f"{a}/"))
        prefixes.append(self.partition.apply(lambda p: f"arn:{p}:s3:::{self.client_bucket_prefix}"))
        self.trail = aws.cloudtrail.Trail(
            f"{n}-data-access-trail",
            name=self.trail_name,
            s3_bucket_name=self.audit_bucket.id,
            kms_key_id=self.data_key.arn,
            # Digest files signed by CloudTrail: an auditor can prove no log file was changed or removed.
            enable_log_file_validation=True,
            # Every region: the replicas live in the second one. The selector below picks data events only (the
            # account's management events are its own trail's business); CloudTrail requires global service
            # events on a multi-region trail, they match no data-event selector.
            include_global_service_events=True,
            is_multi_region_trail=True,
            enable_logging=True,
            advanced_event_selectors=[{
                "name": "Object reads and writes of PHI and backup buckets",
                "field_selectors": [
                    {"field": "eventCategory", "equals": ["Data"]},
                    {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                    {"field": "resources.ARN", "starts_withs": prefixes},
                ],
            }],
            tags=self.tags,
            opts=self._opts(depends_on=deps))

    # ------------------------------------------------------------ IRSA

    def _irsa_role(self, key: str, namespace: str, service_account: str, policy: pulumi.Input[str] | None,
                   managed: tuple[str, ...] = ()) -> aws.iam.Role:
        """An IRSA role for one service account: its inline ``policy`` and/or AWS-managed ``managed`` policies
        (by path below `arn:<partition>:iam::aws:policy/`)."""
        n = f"{self.name}-irsa-{key}"

        def trust(args: list[Any]) -> str:
            provider_arn, issuer = args
            return _policy([{
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                # Exactly one service account may assume this role, and only with an STS audience.
                "Condition": {"StringEquals": {
                    f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                    f"{issuer}:aud": "sts.amazonaws.com",
                }},
            }])

        role = aws.iam.Role(n, assume_role_policy=pulumi.Output.all(self.oidc.arn, self.oidc_issuer).apply(trust),
                            tags=self.tags, opts=self._opts())
        if policy is not None:
            aws.iam.RolePolicy(f"{n}-policy", role=role.id, policy=policy, opts=self._opts())
        role.lfh_grants = []  # type: ignore[attr-defined]  # what the role may do, for users to wait on
        for path in managed:
            role.lfh_grants.append(aws.iam.RolePolicyAttachment(  # type: ignore[attr-defined]
                f"{n}-{path.rsplit('/', 1)[-1]}", role=role.name,
                policy_arn=self.partition.apply(lambda p, path=path: f"arn:{p}:iam::aws:policy/{path}"), opts=self._opts()))
        return role

    def _addon_identities(self) -> None:
        cfg = self.cfg
        bucket_arn = self.bucket.arn
        key_arn = self.data_key.arn
        self.bindings: dict[str, ServiceAccountBinding] = {}
        secret_arn = self._arn("secretsmanager", f"secret:{self.platform.name}/*")
        policies: dict[str, pulumi.Output[str]] = {
            # Read only this platform's secret path, decrypt only through Secrets Manager.
            "external-secrets": pulumi.Output.all(secret_arn, key_arn).apply(lambda a: _policy([
                {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret",
                                               "secretsmanager:ListSecretVersionIds"], "Resource": [a[0]]},
                {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [a[1]],
                 "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{cfg.region}.amazonaws.com"}}},
            ])),
            # Its bucket and EBS snapshots only.
            "velero": pulumi.Output.all(bucket_arn, key_arn).apply(lambda a: _policy([
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:DeleteObject", "s3:PutObject", "s3:AbortMultipartUpload",
                                               "s3:ListMultipartUploadParts"], "Resource": [f"{a[0]}/*"]},
                {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [a[0]]},
                {"Effect": "Allow", "Action": ["ec2:DescribeVolumes", "ec2:DescribeSnapshots"], "Resource": "*"},
                {"Effect": "Allow", "Action": ["ec2:CreateVolume", "ec2:CreateSnapshot", "ec2:CreateTags"], "Resource": "*",
                 "Condition": {"StringEquals": {"aws:RequestedRegion": cfg.region}}},
                {"Effect": "Allow", "Action": ["ec2:DeleteSnapshot"], "Resource": "*",
                 "Condition": {"StringLike": {"ec2:ResourceTag/velero.io/backup": "*"}}},
                {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                                               "kms:DescribeKey", "kms:CreateGrant"], "Resource": [a[1]]},
            ])),
            # Longhorn's backup target: its own prefix of the bucket.
            "longhorn": pulumi.Output.all(bucket_arn, key_arn).apply(lambda a: _policy([
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                 "Resource": [f"{a[0]}/{LONGHORN_PREFIX}/*"]},
                {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [a[0]],
                 "Condition": {"StringLike": {"s3:prefix": [f"{LONGHORN_PREFIX}/*", LONGHORN_PREFIX]}}},
                {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
                 "Resource": [a[1]]},
            ])),
        }
        if cfg.dns_zones:
            zone_arns = [self.partition.apply(lambda p, z=z: f"arn:{p}:route53:::hostedzone/{z.zone_id}") for z in cfg.dns_zones]
            change_arn = self.partition.apply(lambda p: f"arn:{p}:route53:::change/*")
            # DNS-01 only: TXT records named _acme-challenge.* in the configured zones.
            policies["cert-manager"] = pulumi.Output.all(change_arn, *zone_arns).apply(lambda a: _policy([
                {"Effect": "Allow", "Action": "route53:GetChange", "Resource": a[0]},
                {"Effect": "Allow", "Action": "route53:ChangeResourceRecordSets", "Resource": list(a[1:]),
                 "Condition": {"ForAllValues:StringLike": {"route53:ChangeResourceRecordSetsRecordNames": ["_acme-challenge.*"]},
                               "ForAllValues:StringEquals": {"route53:ChangeResourceRecordSetsRecordTypes": ["TXT"]}}},
                {"Effect": "Allow", "Action": "route53:ListResourceRecordSets", "Resource": list(a[1:])},
                {"Effect": "Allow", "Action": "route53:ListHostedZonesByName", "Resource": "*"},
            ]))
        for addon, policy in policies.items():
            ns, sa = ADDON_SERVICE_ACCOUNTS[addon]
            role = self._irsa_role(addon, ns, sa, policy)
            self.bindings[addon] = ServiceAccountBinding(
                namespace=ns, service_account=sa, annotations={"eks.amazonaws.com/role-arn": role.arn})

    # ------------------------------------------------------------ EKS add-ons

    def _addons(self) -> None:
        n = self.name
        # AWS's managed policy for the driver's EC2 calls (EKS user guide, "Create an Amazon EBS CSI driver IAM
        # role": AmazonEBSCSIDriverPolicy); our own statement only for what it cannot know: the customer-managed
        # key of the gp3-encrypted StorageClass ("If you use a custom KMS key … add a KMS policy" there).
        ebs_role = self._irsa_role("ebs-csi", "kube-system", "ebs-csi-controller-sa", pulumi.Output.all(self.data_key.arn).apply(
            lambda a: _policy([
                {"Effect": "Allow", "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], "Resource": [a[0]],
                 "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
                {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                                               "kms:DescribeKey"], "Resource": [a[0]]},
            ])), managed=(EBS_CSI_POLICY,))
        system = scheduling(self.cfg.node_pools)["system"]
        self.addons = [
            self.cni_addon,
            aws.eks.Addon(f"{n}-addon-kube-proxy", cluster_name=self.cluster.name, addon_name="kube-proxy",
                          resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE", tags=self.tags, opts=self._opts()),
            aws.eks.Addon(f"{n}-addon-coredns", cluster_name=self.cluster.name, addon_name="coredns",
                          resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
                          configuration_values=json.dumps({"nodeSelector": system["nodeSelector"], "tolerations": system["tolerations"]}),
                          tags=self.tags, opts=self._opts(depends_on=self.node_groups)),
            aws.eks.Addon(f"{n}-addon-ebs-csi", cluster_name=self.cluster.name, addon_name="aws-ebs-csi-driver",
                          addon_version=self.cfg.ebs_csi_version, service_account_role_arn=ebs_role.arn,
                          resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
                          configuration_values=json.dumps({"controller": {"nodeSelector": system["nodeSelector"],
                                                                          "tolerations": system["tolerations"]}}),
                          tags=self.tags, opts=self._opts(depends_on=self.node_groups)),
            # The metrics API (HPAs read it): the EKS community add-on metrics-server, a pinned version
            # whose lifecycle EKS manages (EKS user guide "Community add-ons"); on the system pool.
            aws.eks.Addon(f"{n}-addon-metrics-server", cluster_name=self.cluster.name, addon_name="metrics-server",
                          addon_version=self.cfg.metrics_server_version,
                          resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
                          configuration_values=json.dumps({"nodeSelector": system["nodeSelector"],
                                                           "tolerations": system["tolerations"]}),
                          tags=self.tags, opts=self._opts(depends_on=self.node_groups)),
            # The snapshot.storage.k8s.io CRDs and the snapshot controller, which Velero's CSI snapshots
            # and the EBS CSI driver's snapshots need (EKS user guide, "CSI snapshot controller": the
            # `snapshot-controller` add-on includes the CRDs and needs no IAM permissions).
            aws.eks.Addon(f"{n}-addon-snapshot-controller", cluster_name=self.cluster.name, addon_name="snapshot-controller",
                          resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
                          tags=self.tags, opts=self._opts(depends_on=self.node_groups)),
        ]
        self.ready: list[pulumi.Resource] = [*self.node_groups, *self.addons]

    def _autoscaler_role(self) -> aws.iam.Role:
        """IRSA role of the Cluster Autoscaler: the upstream "Full Cluster Autoscaler Features Policy"
        (kubernetes/autoscaler cluster-autoscaler/cloudprovider/aws/README.md), its scaling actions
        limited to this cluster's groups by the auto-discovery tag EKS puts on every managed node group
        (EKS user guide "Managed node groups": nodes are "automatically tagged for auto-discovery")."""
        def policy(args: list[Any]) -> str:
            cluster, partition, account = args
            return json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Resource": "*", "Action": [
                    "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
                    "ec2:DescribeImages", "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements"]},
                # Labels and taints of a group at zero nodes: this cluster's node groups only.
                {"Effect": "Allow", "Action": ["eks:DescribeNodegroup"],
                 "Resource": f"arn:{partition}:eks:{self.cfg.region}:{account}:nodegroup/{cluster}/*/*"},
                {"Effect": "Allow", "Resource": "*",
                 "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                 # The tags EKS sets on a managed node group's Auto Scaling group (the conditions of
                 # terraform-aws-iam's cluster-autoscaler policy).
                 "Condition": {"StringEquals": {f"autoscaling:ResourceTag/kubernetes.io/cluster/{cluster}": "owned",
                                                "autoscaling:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true"}}},
            ]})

        return self._irsa_role("cluster-autoscaler", "kube-system", ClusterAutoscaler.SERVICE_ACCOUNT,
                               pulumi.Output.all(self.cluster.name, self.partition, self.account_id).apply(policy))
    # ------------------------------------------------------------ container and gateway access logs

    def _workload_logs(self) -> None:
        """Every container's log (apps, the gateway's access log) into CloudWatch, kept `logging.retentionDays`.

        The `amazon-cloudwatch-observability` add-on runs Fluent Bit on every node and writes to
        `/aws/containerinsights/<cluster>/{application,dataplane,host,performance}` (EKS user guide,
        "Amazon CloudWatch Observability add-on"; it creates missing groups without retention or CMK, so
        they are created here first). Its pods run as `amazon-cloudwatch/cloudwatch-agent`, whose IRSA role
        gets the AWS-managed CloudWatchAgentServerPolicy the add-on documents.
        """
        n, days = self.name, self.platform.logging.retention_days
        self.workload_log_groups = [
            aws.cloudwatch.LogGroup(
                f"{n}-containerinsights-{kind}",
                name=self.cluster_name.apply(lambda c, kind=kind: f"/aws/containerinsights/{c}/{kind}"),
                retention_in_days=days, kms_key_id=self.data_key.arn, tags=self.tags, opts=self._data_opts())
            for kind in ("application", "dataplane", "host", "performance")]

        def trust(args: list[Any]) -> str:
            provider_arn, issuer = args
            return json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {f"{issuer}:sub": "system:serviceaccount:amazon-cloudwatch:cloudwatch-agent",
                                               f"{issuer}:aud": "sts.amazonaws.com"}}}]})

        role = aws.iam.Role(f"{n}-irsa-cloudwatch-agent", assume_role_policy=pulumi.Output.all(self.oidc.arn, self.oidc_issuer).apply(trust),
                            tags=self.tags, opts=self._opts())
        attach = aws.iam.RolePolicyAttachment(
            f"{n}-irsa-cloudwatch-agent-policy", role=role.name,
            policy_arn=self.partition.apply(lambda p: f"arn:{p}:iam::aws:policy/CloudWatchAgentServerPolicy"), opts=self._opts())
        self.cloudwatch_addon = aws.eks.Addon(
            f"{n}-addon-cloudwatch", cluster_name=self.cluster.name, addon_name="amazon-cloudwatch-observability",
            service_account_role_arn=role.arn, resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            # Container logs on (the add-on's `containerLogs.enabled`, its default, stated so it cannot drift).
            configuration_values=json.dumps({"containerLogs": {"enabled": True}}),
            tags=self.tags, opts=self._opts(depends_on=[*self.node_groups, *self.workload_log_groups, attach]))

    # ------------------------------------------------------------ Kubernetes side

    def _kubernetes(self) -> None:
        user = {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", "CLUSTER", "--region", self.cfg.region, "--output", "json"],
            "interactiveMode": "Never",
        }}
        ca = self.cluster.certificate_authority.data

        self.kubeconfig = kubeconfig_yaml(self.cluster.name, self.cluster.endpoint, ca,
                                          lambda cluster_name: _exec_with_name(user, cluster_name))
        self.k8s = k8s.Provider(f"{self.name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
                                opts=pulumi.ResourceOptions(parent=self))
        # Scales the managed node groups between their minimum and maximum sizes.
        self.autoscaler = ClusterAutoscaler(
            f"{self.name}-autoscaler", cluster_name=self.cluster.name, region=self.cfg.region,
            kubernetes_version=self.platform.kubernetes_version, image=self.cfg.cluster_autoscaler_image,
            role_arn=self._autoscaler_role().arn, placement=scheduling(self.cfg.node_pools)["system"],
            provider=self.k8s, depends_on=self.ready, opts=pulumi.ResourceOptions(parent=self))
        self.ready.append(self.autoscaler)
        sc = KubeObject(
            f"{self.name}-sc-{STORAGE_CLASS}", "storage.k8s.io/v1", "StorageClass",
            metadata={"name": STORAGE_CLASS, "labels": labels(STORAGE_CLASS, component="storage"),
                      # The cluster's one default class when Longhorn is off (else Longhorn's is).
                      "annotations": {DEFAULT_CLASS_ANNOTATION: str(self.platform.storage.use_cluster_storage_class).lower()}},
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": self.data_key.arn, "csi.storage.k8s.io/fstype": "ext4"},
            # Retain: deleting a claim must not destroy PHI by accident.
            reclaimPolicy="Retain",
            volumeBindingMode="WaitForFirstConsumer",
            allowVolumeExpansion=True,
            opts=child_opts(self, self.k8s, depends_on=self.ready),
        )
        self.ready.append(sc)


def _exec_with_name(user: dict[str, Any], cluster_name: str) -> dict[str, Any]:
    args = [cluster_name if a == "CLUSTER" else a for a in user["exec"]["args"]]
    return {"exec": {**user["exec"], "args": args}}
