"""Generated demo archives in the official ISIC 2017 layout."""
