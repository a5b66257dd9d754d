"""HTTP handlers of ``/api/v1``: each validates nothing itself (middleware did, from the route
spec), calls one use case and returns its view."""
