"""Style post-processor and embedded styles, checked on a rendered PNG."""

from qgis.core import (
    NULL,
    QgsFeature,
    QgsGeometry,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProcessingContext,
    QgsProject,
    QgsRectangle,
    QgsVectorFileWriter,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


def cluster_layer(path, clusters=None):
    memory = QgsVectorLayer(
        "Polygon?crs=EPSG:27572&field=cluster:integer&field=value:double", "c", "memory"
    )
    features = []
    for i in range(9):
        feature = QgsFeature(memory.fields())
        x = 600_000 + 100 * i
        feature.setGeometry(QgsGeometry.fromRect(QgsRectangle(x, 0, x + 100, 100)))
        cluster = i % 3 if clusters is None else clusters[i]
        feature.setAttributes([NULL if cluster is None else cluster, float(i)])
        features.append(feature)
    memory.dataProvider().addFeatures(features)
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    error = QgsVectorFileWriter.writeAsVectorFormatV2(
        memory, str(path), QgsProject.instance().transformContext(), options
    )
    assert error[0] == QgsVectorFileWriter.WriterError.NoError
    return str(path)


def render(layer, png):
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setExtent(layer.extent())
    settings.setOutputSize(QSize(360, 60))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    image.save(str(png))
    return image


def colours_near(image, targets, tolerance=40):
    found = set()
    for x in range(0, image.width(), 3):
        pixel = QColor(image.pixel(x, image.height() // 2))
        for target in targets:
            t = QColor(target)
            if (
                abs(pixel.red() - t.red())
                + abs(pixel.green() - t.green())
                + abs(pixel.blue() - t.blue())
                < tolerance
            ):
                found.add(target)
    return found


def test_categorized_style_embedded_and_rendered(qgis_app, tmp_path):
    from urban_signatures.plugin.styles import PALETTE, StyleSpec, embed_style

    path = cluster_layer(tmp_path / "clusters.gpkg")
    assert embed_style(path, StyleSpec("categorized", "cluster", opacity=1.0)) == ""
    layer = QgsVectorLayer(path, "clusters", "ogr")  # default style from the GeoPackage
    assert layer.renderer().type() == "categorizedSymbol"
    assert len(layer.renderer().categories()) == 3
    image = render(layer, tmp_path / "clusters.png")
    assert colours_near(image, PALETTE[:3]) == set(PALETTE[:3])


def test_clusters_keep_their_report_colours_and_no_traffic_is_its_own_category(qgis_app, tmp_path):
    from urban_signatures.plugin.styles import NO_DATA_COLOUR, PALETTE, StyleSpec, embed_style

    clusters = [0, 0, 1, 1, None, None, 4, 4, 0]  # cluster 3 empty, two tiles without traffic
    path = cluster_layer(tmp_path / "gaps.gpkg", clusters)
    spec = StyleSpec("categorized", "cluster", opacity=1.0, no_data_label="No traffic")
    assert embed_style(path, spec) == ""
    layer = QgsVectorLayer(path, "clusters", "ogr")
    legend = layer.renderer().legendSymbolItems()
    labels = [item.label() for item in legend]
    assert labels == ["0", "1", "4", "No traffic"]
    colours = [item.symbol().color().name() for item in legend]
    assert colours == [PALETTE[0], PALETTE[1], PALETTE[4], NO_DATA_COLOUR]
    image = render(layer, tmp_path / "gaps.png")
    wanted = {PALETTE[0], PALETTE[1], PALETTE[4], NO_DATA_COLOUR}
    assert colours_near(image, tuple(wanted)) == wanted  # cluster 0 is drawn as cluster 0


def test_graduated_style_via_post_processor(qgis_app, tmp_path):
    from urban_signatures.plugin.styles import StylePostProcessor, StyleSpec, style_output

    path = cluster_layer(tmp_path / "values.gpkg")
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    context.addLayerToLoadOnCompletion(
        path, QgsProcessingContext.LayerDetails("values", QgsProject.instance(), "OUTPUT")
    )
    style_output(path, StyleSpec("graduated", "value", classes=5, opacity=1.0), context)
    processor = context.layerToLoadOnCompletionDetails(path).postProcessor()
    assert isinstance(processor, StylePostProcessor)
    layer = QgsVectorLayer(path, "values", "ogr")
    processor.postProcessLayer(layer, context, None)
    assert layer.renderer().type() == "graduatedSymbol"
    assert len(layer.renderer().ranges()) == 5
    image = render(layer, tmp_path / "values.png")
    distinct = {image.pixel(x, 30) for x in range(0, 360, 4)}
    assert len(distinct) >= 5  # a ramp, not one flat colour


def values_layer(values: list[float]) -> QgsVectorLayer:
    from qgis.core import QgsFeature, QgsGeometry, QgsPointXY

    layer = QgsVectorLayer("Point?crs=EPSG:3857&field=value:double", "values", "memory")
    features = []
    for i, value in enumerate(values):
        feature = QgsFeature(layer.fields())
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(i, i)))
        feature.setAttribute("value", value)
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    layer.updateExtents()
    return layer


def test_graduated_legend_labels_have_meaningful_decimals(qgis_app):
    from urban_signatures.plugin.styles import StyleSpec, build_renderer

    population = values_layer([400.0 + 645.7142857 * i for i in range(70)])
    labels = [
        r.label() for r in build_renderer(population, StyleSpec("graduated", "value")).ranges()
    ]
    assert labels and all("." not in label for label in labels), labels  # 400 - 2,767
    embedding = values_layer([-0.4123456 + 0.0111111 * i for i in range(70)])
    labels = [
        r.label() for r in build_renderer(embedding, StyleSpec("graduated", "value")).ranges()
    ]
    decimals = [
        len(part.split(".")[1]) for label in labels for part in label.split(" - ") if "." in part
    ]
    assert decimals and max(decimals) == 3, labels  # -0.412 - -0.257
