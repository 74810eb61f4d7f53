"""Kubernetes components of a stack (`kubernetesEnabled: true`): the namespace the stack's
workloads live in, guarded like the AWS side (Pod Security `restricted`, default-deny
network policies, quotas, IRSA service accounts), and the model server.

Manifests are built by pure functions as plain Kubernetes API dictionaries (camelCase, as
`kubectl` takes them), so tests validate them against the Kubernetes OpenAPI schema
offline; the components only hand them to pulumi-kubernetes.
"""
