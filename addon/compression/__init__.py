"""The request hook and the pipeline that compresses a request body in place."""
