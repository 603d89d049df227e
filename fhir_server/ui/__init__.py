"""The browser UI at ``/``: read-only, server-rendered pages over the clinic's data (issue 16, item 1).

Behind the authorization pages' login (their session cookie), every page runs the same service functions as the FHIR
API (read, search, history, ``$everything``) under the access context the API would derive for the logged-in user
(:mod:`fhir_server.ui.viewer`), and shows the equivalent FHIR request for copying.
"""
