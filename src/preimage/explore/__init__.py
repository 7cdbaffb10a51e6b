"""``preimage explore``: an interactive explorer of what a representation keeps, in the browser.

Pick a photo and a representation; the learned decoder answers as the sliders move (binarise, dropout, drop
the least, top-k classes, interpolation, random codes), while filter textures and optimisation run as
background jobs. ``create_app()`` builds the Starlette app, ``serve()`` runs it with uvicorn.
"""

from preimage.explore.app import create_app, serve
from preimage.explore.explorer import Explorer, View

__all__ = ["Explorer", "View", "create_app", "serve"]
