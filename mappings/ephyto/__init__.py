"""ePhyto: the domestic phytosanitary-certificate schema, the IPPC Hub XSDs and the SPSCertificate profile."""

__all__: list[str] = []
