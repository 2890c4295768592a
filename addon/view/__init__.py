"""What a person sees in mitmweb."""
