"""The bundled demo: an hourly PM2.5 regressor kept fresh over five years of Beijing data."""
