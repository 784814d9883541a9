import { cva, type VariantProps } from "class-variance-authority";
import type { ComponentPropsWithRef } from "react";
import { cn } from "../lib/cn.js";

const button = cva(
  "inline-flex items-center justify-center gap-2 rounded-full font-medium transition-colors focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-brand-400 disabled:cursor-not-allowed disabled:opacity-50",
  {
    variants: {
      variant: {
        primary: "bg-brand-500 text-slate-950 hover:bg-brand-400",
        accept: "bg-emerald-500 text-white hover:bg-emerald-400",
        danger: "bg-rose-600 text-white hover:bg-rose-500",
        ghost: "bg-slate-800 text-slate-100 hover:bg-slate-700",
        toggledOff: "bg-slate-100 text-slate-900 hover:bg-white",
      },
      size: {
        md: "h-11 px-5 text-sm",
        lg: "h-14 px-7 text-base",
        icon: "h-14 w-14 text-xl",
      },
    },
    defaultVariants: { variant: "primary", size: "md" },
  },
);

// With ref: React 19 passes it as a prop, to the <button>.
export type ButtonProps = ComponentPropsWithRef<"button"> & VariantProps<typeof button>;

export function Button({ className, variant, size, type = "button", ...props }: ButtonProps) {
  return <button type={type} className={cn(button({ variant, size }), className)} {...props} />;
}
