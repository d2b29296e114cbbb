"""Routes by area; each route declares its rule (see ``remission.web.deps``)."""
