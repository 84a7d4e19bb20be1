"""Code generated from proto/ (scripts/gen-proto.sh); do not edit."""
