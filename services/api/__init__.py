"""The video catalog service (NATS request/reply); its client is :mod:`mesh.catalog_client`."""
