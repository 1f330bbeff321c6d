"""Models assembled from installed packages into one shared cache (`m5ser models`)."""
