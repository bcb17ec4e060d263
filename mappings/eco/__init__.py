"""e-C/O: the domestic certificate-of-origin schema, the interim e-Form D XSD and its mapping profile."""

__all__: list[str] = []
