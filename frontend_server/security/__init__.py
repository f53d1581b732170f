"""Who is calling and what a browser may do: sessions, tokens, XSRF, CORS and abuse limits."""
