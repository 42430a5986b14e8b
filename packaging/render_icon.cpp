// losslab-render-icon SVG PNG SIZE
//
// Renders the application icon's SVG into a SIZE x SIZE PNG at build time, so that the
// bitmap of the hicolor theme is always drawn from the committed SVG and never goes stale.
// Exits non-zero, without writing PNG, when the SVG cannot be read or draws nothing: a broken
// icon then breaks the build instead of shipping as an empty square.
#include <QImage>
#include <QPainter>
#include <QString>
#include <QSvgRenderer>

#include <cstdio>
#include <cstdlib>

namespace {

int fail(const QString& message) {
    std::fprintf(stderr, "losslab-render-icon: %s\n", qPrintable(message));
    return 1;
}

bool hasVisiblePixel(const QImage& image) {
    for (int y = 0; y < image.height(); ++y)
        for (int x = 0; x < image.width(); ++x)
            if (qAlpha(image.pixel(x, y)) != 0) return true;
    return false;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 4) return fail("usage: losslab-render-icon SVG PNG SIZE");
    const QString svgPath = QString::fromLocal8Bit(argv[1]);
    const QString pngPath = QString::fromLocal8Bit(argv[2]);
    bool sizeOk = false;
    const int size = QString::fromLocal8Bit(argv[3]).toInt(&sizeOk);
    if (!sizeOk || size < 16 || size > 1024) return fail("SIZE: expected an integer from 16 to 1024");

    // Raster painting on a QImage needs no QGuiApplication and so no display or platform
    // plugin: the tool runs on headless build machines.
    QSvgRenderer renderer(svgPath);
    if (!renderer.isValid()) return fail(svgPath + ": not a readable SVG file");
    QImage image(size, size, QImage::Format_ARGB32_Premultiplied);
    image.fill(Qt::transparent);
    {
        QPainter painter(&image);
        painter.setRenderHint(QPainter::Antialiasing);
        renderer.render(&painter, QRectF(0, 0, size, size));
    }
    if (!hasVisiblePixel(image)) return fail(svgPath + ": the SVG draws nothing");
    if (!image.convertToFormat(QImage::Format_ARGB32).save(pngPath, "PNG"))
        return fail(pngPath + ": cannot write the PNG file");
    return 0;
}
