"""RT Structure Sets (PS3.3 A.19): ROIs and contours read in patient coordinates, mapped to their image series,
rasterised to masks on the images' grid (numpy), and built from masks or polygons.

>>> from dicomkit.rt import StructureSet, ImageSeries, rasterize
>>> rs = StructureSet.read("rtstruct.dcm")
>>> series = ImageSeries.from_datasets(dicomkit.read(p) for p in ct_files)
>>> mask = rasterize(rs.roi("GTV"), series)       # (slices, rows, columns) bool
"""

from .build import ROISpec, build_structure_set
from .geometry import GeometryError, ImagePlane, ImageSeries
from .raster import fill_polygon, mask_contours, mask_polygons, rasterize
from .structure_set import ROI, RT_STRUCTURE_SET_STORAGE, Contour, StructureSet, StructureSetError

__all__ = [
           "ROI",
           "RT_STRUCTURE_SET_STORAGE",
           "Contour",
           "GeometryError",
           "ImagePlane",
           "ImageSeries",
           "ROISpec",
           "StructureSet",
           "StructureSetError",
           "build_structure_set",
           "fill_polygon",
           "mask_contours",
           "mask_polygons",
           "rasterize",
]
