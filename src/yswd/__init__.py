"""yswd: You Said, We Did. Feedback from mental-health services, recorded as events."""

__version__ = "0.1.0"
