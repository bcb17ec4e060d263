"""Data: the seven schemas of the IPPC ePhyto Hub WSDL, written by ops/tools/extract_ephyto_hub_xsd.py."""
