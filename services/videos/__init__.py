"""The video record and its lifecycle, shared by the API service and the workers."""
