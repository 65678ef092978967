"""What is stored per segment, computed from the encoder's output: moments, SPF, flow, activity."""
