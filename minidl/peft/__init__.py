"""minidl.peft: parameter-efficient fine-tuning with LoRA (Hu et al. 2021),
with the PEFT library's names.

``layers.py`` holds the LoRA layers (Linear, Conv2d, attention);
``lora.py`` applies them to a model (:func:`add_lora`), folds them back
(:func:`merge_lora`) and saves or loads the adapters alone
(:func:`lora_state_dict`, :func:`load_lora`).
"""
from .layers import (LoRAConv2d, LoRALayer, LoRALinear, LoRAMultiheadAttention,
                     is_attention)
from .lora import (add_lora, count_trainable, find_targets, load_lora,
                   lora_layers, lora_state_dict, merge_lora,
                   print_trainable_parameters, trainable_parameters_report,
                   unload_lora)

__all__ = ["LoRAConv2d", "LoRALayer", "LoRALinear", "LoRAMultiheadAttention",
           "add_lora", "count_trainable", "find_targets", "is_attention",
           "load_lora", "lora_layers", "lora_state_dict", "merge_lora",
           "print_trainable_parameters", "trainable_parameters_report",
           "unload_lora"]
