"""The cars of a scene: one seen straight from the front or the back, flat on its own canvas.

``draw_car`` paints a body from ``colour.CAR_COLOURS``, a silhouette, a grille or boot line,
lights and an empty plate holder (one of ``HOLDER_COLOURS``), and says where the holder is, so
``scenes`` can paste a plate into it and carry its corners through the car's homography.
"""

from __future__ import annotations

import cv2
import numpy as np

from minilpr.data.colour import car_paint

# plate-holder frames: near-black, dark grey, chrome, white, dealer red, dealer blue
HOLDER_COLOURS = ((25, 25, 28), (60, 60, 64), (170, 172, 178), (225, 225, 222), (140, 28, 30),
                  (30, 50, 120))



def draw_car(rng: np.random.Generator, car_width: int, rear: bool = False,
             holder: tuple[tuple[float, float, float], int] | None = None
             ) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """A car seen straight from the front (or the back), flat, with an empty plate holder.

    Parameters
    ----------
    car_width : int
        Width of the canvas in pixels; the height follows from the car's proportions.
    rear : bool
        The back of the car: red tail lights, and the plate in a recess of the boot lid
        instead of the bumper under the grille.
    holder : ((r, g, b), rim) optional
        The plate holder's colour and its rim around the plate in multiples of 1/30 of the
        plate's width (0: no frame); None draws the first generator's near-black thin frame.

    Returns
    -------
    canvas : (H_car, W_car, 3) uint8 RGB
    silhouette : (H_car, W_car) uint8
        255 on the car, 0 around it.
    plate_rect : (x, y, w, h) int
        Where the plate goes, in canvas pixels (its width is 22-27 % of the car's).
    """
    cw = int(car_width)
    ch = int(round(cw * rng.uniform(0.62, 0.78)))
    canvas = np.zeros((ch, cw, 3), np.uint8)
    silhouette = np.zeros((ch, cw), np.uint8)
    paint = car_paint(rng)
    paint = np.clip(paint + rng.normal(0, 8, 3), 0, 255)

    def pt(fx, fy):
        return [int(round(fx * cw)), int(round(fy * ch))]

    def poly(points, colour, target=canvas):
        cv2.fillPoly(target, [np.array(points, np.int32)], colour, cv2.LINE_AA)

    roof = rng.uniform(0.02, 0.08)
    shoulder = rng.uniform(0.38, 0.46)
    top_half = rng.uniform(0.25, 0.33)
    body_bottom = rng.uniform(0.9, 0.94)
    # cabin (a trapezoid), mirrors, body; then the same shapes into the silhouette
    cabin = [pt(0.5 - top_half, roof), pt(0.5 + top_half, roof), pt(0.93, shoulder),
             pt(0.07, shoulder)]
    mirrors = [[pt(0.0, shoulder - 0.06), pt(0.09, shoulder - 0.05), pt(0.09, shoulder + 0.01),
                pt(0.01, shoulder + 0.01)],
               [pt(1.0, shoulder - 0.06), pt(0.91, shoulder - 0.05), pt(0.91, shoulder + 0.01),
                pt(0.99, shoulder + 0.01)]]
    body = [pt(0.05, shoulder - 0.02), pt(0.95, shoulder - 0.02), pt(0.98, shoulder + 0.08),
            pt(0.98, body_bottom), pt(0.02, body_bottom), pt(0.02, shoulder + 0.08)]
    wheels = [[pt(0.05, 0.85), pt(0.2, 0.85), pt(0.2, 1.0), pt(0.05, 1.0)],
              [pt(0.8, 0.85), pt(0.95, 0.85), pt(0.95, 1.0), pt(0.8, 1.0)]]
    for shape in wheels:
        poly(shape, (22, 22, 24))
    for shape in [cabin, body] + mirrors:
        poly(shape, paint.tolist())
    for shape in [cabin, body] + mirrors + wheels:
        poly(shape, 255, silhouette)

    # windscreen: dark glass with a lighter diagonal reflection
    glass = np.clip(rng.uniform(25, 90) + rng.normal(0, 8, 3), 0, 255)
    screen = [pt(0.5 - top_half + 0.03, roof + 0.03), pt(0.5 + top_half - 0.03, roof + 0.03),
              pt(0.88, shoulder - 0.03), pt(0.12, shoulder - 0.03)]
    poly(screen, glass.tolist())
    if rng.random() < 0.7:
        start = rng.uniform(0.3, 0.6)
        glare = [pt(start, roof + 0.03), pt(start + 0.08, roof + 0.03),
                 pt(start - 0.05, shoulder - 0.03), pt(start - 0.13, shoulder - 0.03)]
        poly(glare, np.clip(glass + 45, 0, 255).tolist())

    # lamps: white headlights at the front, red tail lights at the back
    light_y = shoulder + rng.uniform(0.06, 0.1)
    if rear:
        lamp = np.clip([rng.uniform(160, 230), rng.uniform(20, 60), rng.uniform(20, 60)]
                       + rng.normal(0, 6, 3), 0, 255).tolist()
    else:
        lamp = np.clip(rng.uniform(170, 240) + rng.normal(0, 6, 3), 0, 255).tolist()
    for left in (True, False):
        x0, x1 = (0.07, 0.28) if left else (0.72, 0.93)
        if rng.random() < 0.5:
            cv2.ellipse(canvas, (int((x0 + x1) / 2 * cw), int((light_y + 0.05) * ch)),
                        (int((x1 - x0) / 2 * cw), int(0.05 * ch)), 0, 0, 360, lamp, -1,
                        cv2.LINE_AA)
        else:
            inner, outer = (x1, x0) if left else (x0, x1)
            poly([pt(outer, light_y), pt(inner, light_y + 0.03), pt(inner, light_y + 0.1),
                  pt(outer, light_y + 0.08)], lamp)

    badge = (200, 200, 205)
    if rear:
        # the boot lid with a recess for the plate and a badge above it
        recess = np.clip(paint * rng.uniform(0.6, 0.85), 0, 255).tolist()
        g0, g1 = pt(0.3, light_y + 0.02), pt(0.7, light_y + rng.uniform(0.22, 0.27))
        cv2.rectangle(canvas, tuple(g0), tuple(g1), recess, -1)
        cv2.ellipse(canvas, ((g0[0] + g1[0]) // 2, g0[1] + max(2, ch // 30)),
                    (max(2, cw // 40), max(2, ch // 60)), 0, 0, 360, badge, -1, cv2.LINE_AA)
        zone = (g0[1] / ch + 0.06, g1[1] / ch - 0.01)
        bumper_top = g1[1] / ch + 0.02
    else:
        # grille with bars and a badge; the plate sits in the bumper below it
        grille_colour = np.clip(paint * rng.uniform(0.1, 0.4), 0, 255)
        g0, g1 = pt(0.31, light_y), pt(0.69, light_y + rng.uniform(0.1, 0.16))
        cv2.rectangle(canvas, tuple(g0), tuple(g1), grille_colour.tolist(), -1)
        bar = np.clip(grille_colour + 50, 0, 255).tolist()
        for y in np.linspace(g0[1], g1[1], int(rng.integers(3, 7)))[1:-1]:
            cv2.line(canvas, (g0[0], int(y)), (g1[0], int(y)), bar, max(1, ch // 120))
        cv2.ellipse(canvas, ((g0[0] + g1[0]) // 2, (g0[1] + g1[1]) // 2),
                    (max(2, cw // 40), max(2, ch // 40)), 0, 0, 360, badge, -1, cv2.LINE_AA)
        bumper_top = g1[1] / ch + 0.03
        zone = (bumper_top, body_bottom - 0.07)
    bumper = np.clip(paint * rng.uniform(0.8, 1.05), 0, 255).tolist()
    cv2.rectangle(canvas, tuple(pt(0.03, bumper_top)), tuple(pt(0.97, body_bottom - 0.01)),
                  bumper, -1)
    cv2.rectangle(canvas, tuple(pt(0.22, body_bottom - 0.06)), tuple(pt(0.78, body_bottom - 0.02)),
                  (30, 30, 32), -1)
    for fx in (0.12, 0.88):  # fog lights at the front, reflectors at the back
        cv2.circle(canvas, tuple(pt(fx, body_bottom - 0.1)), max(2, cw // 45), lamp, -1,
                   cv2.LINE_AA)

    # the plate holder, centred in its zone
    plate_w = int(round(cw * rng.uniform(0.22, 0.27)))
    plate_h = max(4, int(round(plate_w * 140 / 440)))
    plate_x = int(round(cw / 2 - plate_w / 2 + rng.uniform(-0.02, 0.02) * cw))
    free = (zone[1] - zone[0]) * ch - plate_h
    plate_y = int(round(zone[0] * ch + max(free, 0) * rng.uniform(0.2, 0.8)))
    holder_colour, rims = ((25, 25, 28), 1) if holder is None else holder
    rim = max(1, plate_w // 30) * rims
    if rim:
        cv2.rectangle(canvas, (plate_x - rim, plate_y - rim),
                      (plate_x + plate_w + rim - 1, plate_y + plate_h + rim - 1),
                      tuple(holder_colour), -1)

    # light from above and from one side
    shade = np.linspace(rng.uniform(1.0, 1.25), rng.uniform(0.6, 0.85), ch, dtype=np.float32)
    side = np.linspace(1.0, rng.uniform(0.75, 1.25), cw, dtype=np.float32)
    canvas = np.clip(canvas * shade[:, None, None] * side[None, :, None], 0, 255).astype(np.uint8)
    return canvas, silhouette, (plate_x, plate_y, plate_w, plate_h)
