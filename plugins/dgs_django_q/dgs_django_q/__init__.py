"""dgs-django-q: the ``django_q`` index transport for dgs (see README.md)."""

__version__ = "0.1.0"
