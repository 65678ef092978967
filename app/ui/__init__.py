"""The web UI (``vidsearch ui``): Gradio page, search service, media routes, cards and plots."""
