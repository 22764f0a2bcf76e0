"""Convolution and pooling from their definitions: loops over kernel offsets and windows."""

import numpy as np

from . import oracle


def _pad(x, p):
    """x (N, C, H, W) with p zeros on every side of H and W."""
    xp = np.zeros((*x.shape[:2], x.shape[2] + 2 * p, x.shape[3] + 2 * p))
    xp[:, :, p : p + x.shape[2], p : p + x.shape[3]] = x
    return xp


@oracle
def forward(x, W, b, stride, padding):
    """Cross-correlation: x (N, C, H, W), W (F, C, K, K), b (F,) -> (N, F, H', W').

    out[n, f, i, j] = b[f] + sum_{c, u, v} xp[n, c, i*S + u, j*S + v] * W[f, c, u, v]
    """
    xp, k, s = _pad(x, padding), W.shape[-1], stride
    out_h, out_w = (xp.shape[2] - k) // s + 1, (xp.shape[3] - k) // s + 1
    out = np.zeros((x.shape[0], W.shape[0], out_h, out_w)) + b[None, :, None, None]
    for u in range(k):
        for v in range(k):
            part = xp[:, :, u : u + s * (out_h - 1) + 1 : s, v : v + s * (out_w - 1) + 1 : s]
            out += np.einsum("nchw,fc->nfhw", part, W[:, :, u, v])
    return out


@oracle
def padded_dx(dout, W, stride, padded_shape):
    """Gradient w.r.t. the padded input (N, C, H + 2P, W + 2P): each dout value times W, back on its window."""
    dxp, k, s = np.zeros(padded_shape), W.shape[-1], stride
    out_h, out_w = dout.shape[2:]
    for u in range(k):
        for v in range(k):
            dxp[:, :, u : u + s * (out_h - 1) + 1 : s, v : v + s * (out_w - 1) + 1 : s] += np.einsum(
                "nfhw,fc->nchw", dout, W[:, :, u, v]
            )
    return dxp


@oracle
def dw(x, dout, k, stride, padding):
    """dW (F, C, K, K) for windows starting every `stride` cells of the padded x."""
    xp, s = _pad(x, padding), stride
    out_h, out_w = dout.shape[2:]
    dw = np.zeros((dout.shape[1], x.shape[1], k, k))
    for u in range(k):
        for v in range(k):
            part = xp[:, :, u : u + s * (out_h - 1) + 1 : s, v : v + s * (out_w - 1) + 1 : s]
            dw[:, :, u, v] = np.einsum("nfhw,nchw->fc", dout, part)
    return dw


@oracle
def db(dout):
    """db (F,): dout (N, F, H', W') summed over N, H' and W'."""
    return dout.sum(axis=(0, 2, 3))


def _pool(x, k, s, reduce):
    """reduce(window, axis=(2, 3)) over every K x K window starting at (i*S, j*S)."""
    out_h, out_w = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
    out = np.empty((*x.shape[:2], out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            out[:, :, i, j] = reduce(x[:, :, i * s : i * s + k, j * s : j * s + k], axis=(2, 3))
    return out


@oracle
def max_pool(x, kernel_size, stride):
    """Max over every K x K window starting at (i*S, j*S): x (N, C, H, W) -> (N, C, H', W')."""
    return _pool(x, kernel_size, stride, np.max)


@oracle
def max_pool_route(
    x, dout, kernel_size, stride, place_step=None, unravel_width=None, swap_axes=False, assign_windows=False
):
    """Send each dout value to the first maximum of its window, adding where windows share it.

    Window (i, j) is x[..., i*S : i*S + K, j*S : j*S + K] (shorter at the border if it does not fit);
    its gradient is placed relative to (i*place_step, j*place_step), place_step defaulting to S.
    The window's flat argmax a becomes (row, col) = divmod(a, unravel_width) (default K), or
    (col, row) with swap_axes. With assign_windows, each window's gradient overwrites the whole
    window (dx[window] = mask * dout) instead of adding to it.
    Returns (dx, count), count[n, c, h, w] = how many windows sent their gradient to (h, w);
    dx is None if a window lies outside x or a position falls outside it.
    """
    k, s = kernel_size, stride
    step = s if place_step is None else place_step
    dx, count = np.zeros(x.shape), np.zeros(x.shape, dtype=int)
    for position in np.ndindex(dout.shape):
        n, c, i, j = position
        window = x[n, c, i * s : i * s + k, j * s : j * s + k]
        if window.size == 0:
            return None, count
        u, v = divmod(int(np.argmax(window)), window.shape[1] if unravel_width is None else unravel_width)
        if swap_axes:
            u, v = v, u
        cell = (n, c, i * step + u, j * step + v)
        if cell[2] >= x.shape[2] or cell[3] >= x.shape[3]:
            return None, count
        if assign_windows:
            dx[n, c, i * s : i * s + k, j * s : j * s + k] = 0
            dx[cell] = dout[position]
        else:
            dx[cell] += dout[position]
        count[cell] += 1
    return dx, count


@oracle
def avg_pool(x, k, s):
    """Average over every K x K window starting at (i*S, j*S): x (N, C, H, W) -> (N, C, H', W')."""
    return _pool(x, k, s, np.mean)


@oracle
def avg_pool_spread(x_shape, dout, k, s, divisor=None, place_step=None, one_cell=False, assign_windows=False):
    """Average pooling's dx (N, C, H, W): each dout value shared evenly by the K * K cells of its window.

    Window (i, j) is x[..., i*S : i*S + K, j*S : j*S + K]; each of its cells gets dout / (K * K),
    adding where windows overlap. Mistakes, for hints: `divisor` replaces K * K; the window is
    placed at (i*place_step, j*place_step) (place_step defaults to S); with one_cell only its
    first cell (top left) gets the share; with assign_windows each window overwrites its cells
    (dx[window] = share) instead of adding. None if a window falls outside x.
    """
    step = s if place_step is None else place_step
    share = dout / (k * k if divisor is None else divisor)
    dx = np.zeros(x_shape)
    for (n, c, i, j), part in np.ndenumerate(share):
        rows, cols = slice(i * step, i * step + k), slice(j * step, j * step + k)
        if i * step + k > x_shape[2] or j * step + k > x_shape[3]:
            return None
        if one_cell:
            dx[n, c, i * step, j * step] += part
        elif assign_windows:
            dx[n, c, rows, cols] = part
        else:
            dx[n, c, rows, cols] += part
    return dx
