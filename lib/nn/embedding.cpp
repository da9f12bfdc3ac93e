// nn::Embedding over functional::embedding.
#include <ostream>

#include "tapegrad/creation.hpp"
#include "tapegrad/nn/modules.hpp"
#include "tensor/check.hpp"

namespace tg::nn {

Embedding::Embedding(const EmbeddingOptions& options_) : Module("Embedding"), options(options_) {
    TG_CHECK(options.num_embeddings() > 0 && options.embedding_dim() > 0, "Embedding",
             "num_embeddings and embedding_dim must be positive, got {} and {}",
             options.num_embeddings(), options.embedding_dim());
    weight = register_parameter("weight",
                                empty({options.num_embeddings(), options.embedding_dim()}));
    reset_parameters();
}

void Embedding::reset_parameters() {
    if (options.weight_init())
        options.weight_init()(weight);
    else
        init::normal_(weight, 0.0, 1.0);
}

Tensor Embedding::forward(const Tensor& indices) { return functional::embedding(indices, weight); }

void Embedding::pretty_print(std::ostream& os) const {
    os << "Embedding(num_embeddings=" << options.num_embeddings()
       << ", embedding_dim=" << options.embedding_dim() << ")";
}

}  // namespace tg::nn
