"""The REST API: videos, identity, the publish ingress, documentation routes and the OpenAPI
document."""
