"""hwcloud-access-operator: Huawei Cloud VPN and RocketMQ access as Kubernetes resources."""

__version__ = "0.1.0"
