"""HTTP plumbing: the request path (App), the routing table and URL paths, reading bodies
under the limit, ready-made responses, and the one error → answer mapping."""
