"""The Embed / Classify HTTP service in the hosted API's wire format."""
