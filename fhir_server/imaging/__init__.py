"""Imaging: DICOMweb (QIDO-RS, WADO-RS, STOW-RS) proxied to Orthanc under the server's authorization, and the
ImagingStudy resources kept in step with what Orthanc holds.

https://www.dicomstandard.org/using/dicomweb and http://hl7.org/fhir/R4/imagingstudy.html.
"""
