package artifact

import "image/color"

var colors = []color.RGBA{
	{R: 31, G: 119, B: 180, A: 255},
	{R: 214, G: 39, B: 40, A: 255},
	{R: 44, G: 160, B: 44, A: 255},
	{R: 255, G: 127, B: 14, A: 255},
	{R: 148, G: 103, B: 189, A: 255},
}

func palette(i int) color.Color { return colors[i%len(colors)] }
