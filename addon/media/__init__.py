"""Images and video in request bodies: what they cost each provider, and smaller forms of them."""
