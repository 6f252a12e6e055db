"""What the API computes from what it reads: no AWS, no HTTP framework."""
