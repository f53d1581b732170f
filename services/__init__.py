"""Services of the mesh: the video API service, the worker, and the analysis library."""
