"""The OpenAPI 3.1 document of the edge, generated from the Pydantic models."""
